-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN "timeZone" TEXT;
