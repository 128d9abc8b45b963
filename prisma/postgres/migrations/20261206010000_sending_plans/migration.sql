-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN     "variant" TEXT;

-- AlterTable
ALTER TABLE "ProofLog" ADD COLUMN     "variant" TEXT;

-- AlterTable
ALTER TABLE "TrackingEvent" ADD COLUMN     "machine" BOOLEAN NOT NULL DEFAULT false;

