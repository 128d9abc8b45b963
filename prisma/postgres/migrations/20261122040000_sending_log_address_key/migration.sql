-- Duplicates are judged on the lower-cased address, looked up per page of the preparation
-- (instead of every address kept in the worker's memory).

-- DropIndex
DROP INDEX "SendingLog_deliveryId_email_idx";

-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN     "addressKey" TEXT NOT NULL DEFAULT '';
UPDATE "SendingLog" SET "addressKey" = lower(trim("email"));

-- CreateIndex
CREATE INDEX "SendingLog_deliveryId_addressKey_idx" ON "SendingLog"("deliveryId", "addressKey");
