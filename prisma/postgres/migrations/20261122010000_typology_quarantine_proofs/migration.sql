-- AlterTable
ALTER TABLE "Delivery" ADD COLUMN     "sendingStartedAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN     "bouncedAt" TIMESTAMP(3),
ADD COLUMN     "resentAfterCrash" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "retryAt" TIMESTAMP(3),
ADD COLUMN     "softFailures" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "Quarantine" (
    "address" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "failureType" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "errorCount" INTEGER NOT NULL DEFAULT 0,
    "lastErrorAt" TIMESTAMP(3) NOT NULL,
    "quarantinedAt" TIMESTAMP(3),
    "deliveryId" TEXT,

    CONSTRAINT "Quarantine_pkey" PRIMARY KEY ("address")
);

-- CreateTable
CREATE TABLE "ProofLog" (
    "id" SERIAL NOT NULL,
    "deliveryId" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "email" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "reason" TEXT,
    "sentAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ProofLog_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Quarantine_status_idx" ON "Quarantine"("status");

-- CreateIndex
CREATE INDEX "ProofLog_deliveryId_number_idx" ON "ProofLog"("deliveryId", "number");

-- CreateIndex
CREATE INDEX "SendingLog_profileId_sentAt_idx" ON "SendingLog"("profileId", "sentAt");

