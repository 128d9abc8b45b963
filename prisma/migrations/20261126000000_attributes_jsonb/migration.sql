-- Postgres keeps the attributes as jsonb in this column (its migration of the same name); SQLite reads the text
-- with its JSON functions, so here the column is only a virtual alias that costs nothing: the two schemas stay
-- the same models. Prisma cannot declare a generated column: schema.prisma lists it as Unsupported("jsonb"),
-- and this file is written by hand (a table redefinition generated later must keep the GENERATED clause).
ALTER TABLE "Profile" ADD COLUMN "attributesJson" jsonb GENERATED ALWAYS AS ("attributes") VIRTUAL;
