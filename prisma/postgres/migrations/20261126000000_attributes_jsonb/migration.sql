-- Attributes as jsonb beside their text, kept by Postgres itself: audience conditions read this column
-- instead of parsing "attributes" on every row for every leaf. Prisma cannot declare a generated column:
-- schema.prisma lists it as Unsupported("jsonb"), and this file is written by hand.
ALTER TABLE "Profile" ADD COLUMN "attributesJson" JSONB GENERATED ALWAYS AS ("attributes"::jsonb) STORED;
