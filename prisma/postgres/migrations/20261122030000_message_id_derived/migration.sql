-- AlterTable
ALTER TABLE "SendingLog" DROP COLUMN "messageId";

