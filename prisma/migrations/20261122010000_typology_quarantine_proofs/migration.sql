-- AlterTable
ALTER TABLE "Delivery" ADD COLUMN "sendingStartedAt" DATETIME;

-- CreateTable
CREATE TABLE "Quarantine" (
    "address" TEXT NOT NULL PRIMARY KEY,
    "status" TEXT NOT NULL,
    "failureType" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "errorCount" INTEGER NOT NULL DEFAULT 0,
    "lastErrorAt" DATETIME NOT NULL,
    "quarantinedAt" DATETIME,
    "deliveryId" TEXT
);

-- CreateTable
CREATE TABLE "ProofLog" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "deliveryId" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "email" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "reason" TEXT,
    "sentAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_SendingLog" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "deliveryId" TEXT NOT NULL,
    "profileId" INTEGER NOT NULL,
    "email" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "retryAt" DATETIME,
    "softFailures" INTEGER NOT NULL DEFAULT 0,
    "bouncedAt" DATETIME,
    "exclusionCause" TEXT,
    "failureType" TEXT,
    "reason" TEXT,
    "personalization" TEXT NOT NULL DEFAULT '{}',
    "messageId" TEXT,
    "claim" TEXT,
    "sendAttempts" INTEGER NOT NULL DEFAULT 0,
    "resentAfterCrash" BOOLEAN NOT NULL DEFAULT false,
    "sentAt" DATETIME
);
INSERT INTO "new_SendingLog" ("claim", "deliveryId", "email", "exclusionCause", "failureType", "id", "messageId", "personalization", "profileId", "reason", "sendAttempts", "sentAt", "status") SELECT "claim", "deliveryId", "email", "exclusionCause", "failureType", "id", "messageId", "personalization", "profileId", "reason", "sendAttempts", "sentAt", "status" FROM "SendingLog";
DROP TABLE "SendingLog";
ALTER TABLE "new_SendingLog" RENAME TO "SendingLog";
CREATE INDEX "SendingLog_deliveryId_status_id_idx" ON "SendingLog"("deliveryId", "status", "id");
CREATE INDEX "SendingLog_deliveryId_email_idx" ON "SendingLog"("deliveryId", "email");
CREATE INDEX "SendingLog_profileId_sentAt_idx" ON "SendingLog"("profileId", "sentAt");
CREATE UNIQUE INDEX "SendingLog_deliveryId_profileId_key" ON "SendingLog"("deliveryId", "profileId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "Quarantine_status_idx" ON "Quarantine"("status");

-- CreateIndex
CREATE INDEX "ProofLog_deliveryId_number_idx" ON "ProofLog"("deliveryId", "number");

