-- DropIndex
DROP INDEX "SendingLog_deliveryId_addressKey_idx";

-- DropIndex
DROP INDEX "SendingLog_profileId_sentAt_idx";

-- AlterTable
ALTER TABLE "Profile" ADD COLUMN     "addressKey" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- Existing profiles: last updated when created; address key as domain/address.ts computes it (imports only ever
-- stored valid, ASCII addresses, for which lower() and toLowerCase() agree).
UPDATE "Profile" SET "updatedAt" = "createdAt", "addressKey" = lower(btrim("email"));

-- CreateTable
CREATE TABLE "Segment" (
    "name" TEXT NOT NULL,
    "condition" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Segment_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "List" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "List_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ListSubscription" (
    "listId" INTEGER NOT NULL,
    "address" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "changedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "source" TEXT NOT NULL,
    "deliveryId" TEXT,

    CONSTRAINT "ListSubscription_pkey" PRIMARY KEY ("listId","address")
);

-- CreateIndex
CREATE UNIQUE INDEX "List_name_key" ON "List"("name");

-- CreateIndex
CREATE INDEX "ListSubscription_listId_status_idx" ON "ListSubscription"("listId", "status");

-- CreateIndex
CREATE INDEX "ListSubscription_listId_address_status_idx" ON "ListSubscription"("listId", "address", "status");

-- CreateIndex
CREATE INDEX "Profile_addressKey_idx" ON "Profile"("addressKey");

-- CreateIndex
CREATE INDEX "SendingLog_addressKey_deliveryId_idx" ON "SendingLog"("addressKey", "deliveryId");

-- CreateIndex
CREATE INDEX "SendingLog_profileId_status_sentAt_idx" ON "SendingLog"("profileId", "status", "sentAt");

-- CreateIndex
CREATE INDEX "TrackingEvent_sendingLogId_kind_idx" ON "TrackingEvent"("sendingLogId", "kind");

