-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN     "variant" TEXT;

-- AlterTable
ALTER TABLE "ProofLog" ADD COLUMN     "variant" TEXT;

