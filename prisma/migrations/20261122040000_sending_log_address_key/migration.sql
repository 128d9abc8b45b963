-- Duplicates are judged on the lower-cased address, looked up per page of the preparation
-- (instead of every address kept in the worker's memory). Prisma's diff would rebuild the table;
-- SQLite adds a column with a constant default in place.
ALTER TABLE "SendingLog" ADD COLUMN "addressKey" TEXT NOT NULL DEFAULT '';
UPDATE "SendingLog" SET "addressKey" = lower(trim("email"));

-- DropIndex
DROP INDEX "SendingLog_deliveryId_email_idx";

-- CreateIndex
CREATE INDEX "SendingLog_deliveryId_addressKey_idx" ON "SendingLog"("deliveryId", "addressKey");
