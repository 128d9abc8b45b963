-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN     "variant" TEXT;

