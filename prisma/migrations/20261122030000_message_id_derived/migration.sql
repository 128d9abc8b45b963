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
    "claim" TEXT,
    "sendAttempts" INTEGER NOT NULL DEFAULT 0,
    "resentAfterCrash" BOOLEAN NOT NULL DEFAULT false,
    "sentAt" DATETIME
);
INSERT INTO "new_SendingLog" ("bouncedAt", "claim", "deliveryId", "email", "exclusionCause", "failureType", "id", "personalization", "profileId", "reason", "resentAfterCrash", "retryAt", "sendAttempts", "sentAt", "softFailures", "status") SELECT "bouncedAt", "claim", "deliveryId", "email", "exclusionCause", "failureType", "id", "personalization", "profileId", "reason", "resentAfterCrash", "retryAt", "sendAttempts", "sentAt", "softFailures", "status" FROM "SendingLog";
DROP TABLE "SendingLog";
ALTER TABLE "new_SendingLog" RENAME TO "SendingLog";
CREATE INDEX "SendingLog_deliveryId_status_id_idx" ON "SendingLog"("deliveryId", "status", "id");
CREATE INDEX "SendingLog_deliveryId_email_idx" ON "SendingLog"("deliveryId", "email");
CREATE INDEX "SendingLog_profileId_sentAt_idx" ON "SendingLog"("profileId", "sentAt");
CREATE UNIQUE INDEX "SendingLog_deliveryId_profileId_key" ON "SendingLog"("deliveryId", "profileId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

