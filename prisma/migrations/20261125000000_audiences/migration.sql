-- DropIndex
DROP INDEX "SendingLog_deliveryId_addressKey_idx";

-- DropIndex
DROP INDEX "SendingLog_profileId_sentAt_idx";

-- CreateTable
CREATE TABLE "Segment" (
    "name" TEXT NOT NULL PRIMARY KEY,
    "condition" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "List" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "ListSubscription" (
    "listId" INTEGER NOT NULL,
    "address" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "changedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "source" TEXT NOT NULL,
    "deliveryId" TEXT,

    PRIMARY KEY ("listId", "address")
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Profile" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "email" TEXT NOT NULL,
    "firstName" TEXT NOT NULL DEFAULT '',
    "lastName" TEXT NOT NULL DEFAULT '',
    "language" TEXT NOT NULL DEFAULT '',
    "country" TEXT NOT NULL DEFAULT '',
    "optOut" BOOLEAN NOT NULL DEFAULT false,
    "attributes" TEXT NOT NULL DEFAULT '{}',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "addressKey" TEXT NOT NULL DEFAULT ''
);
-- Existing profiles: last updated when created; address key as domain/address.ts computes it (imports only ever
-- stored valid, ASCII addresses, for which lower() and toLowerCase() agree).
INSERT INTO "new_Profile" ("attributes", "country", "createdAt", "email", "firstName", "id", "language", "lastName", "optOut", "updatedAt", "addressKey") SELECT "attributes", "country", "createdAt", "email", "firstName", "id", "language", "lastName", "optOut", "createdAt", lower(trim("email")) FROM "Profile";
DROP TABLE "Profile";
ALTER TABLE "new_Profile" RENAME TO "Profile";
CREATE INDEX "Profile_email_idx" ON "Profile"("email");
CREATE INDEX "Profile_addressKey_idx" ON "Profile"("addressKey");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "List_name_key" ON "List"("name");

-- CreateIndex
CREATE INDEX "ListSubscription_listId_status_idx" ON "ListSubscription"("listId", "status");

-- CreateIndex
CREATE INDEX "ListSubscription_listId_address_status_idx" ON "ListSubscription"("listId", "address", "status");

-- CreateIndex
CREATE INDEX "SendingLog_addressKey_deliveryId_idx" ON "SendingLog"("addressKey", "deliveryId");

-- CreateIndex
CREATE INDEX "SendingLog_profileId_status_sentAt_idx" ON "SendingLog"("profileId", "status", "sentAt");

-- CreateIndex
CREATE INDEX "TrackingEvent_sendingLogId_kind_idx" ON "TrackingEvent"("sendingLogId", "kind");

