-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN "sendTimeClass" TEXT;
