-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN "variant" TEXT;

-- AlterTable
ALTER TABLE "ProofLog" ADD COLUMN "variant" TEXT;

-- AlterTable (written by hand: Prisma would copy the whole table to add a column SQLite adds in place)
ALTER TABLE "TrackingEvent" ADD COLUMN "machine" BOOLEAN NOT NULL DEFAULT false;
