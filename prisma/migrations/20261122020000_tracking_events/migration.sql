-- CreateTable
CREATE TABLE "TrackingEvent" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "deliveryId" TEXT NOT NULL,
    "sendingLogId" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "linkId" INTEGER NOT NULL DEFAULT 0,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE INDEX "TrackingEvent_deliveryId_kind_sendingLogId_idx" ON "TrackingEvent"("deliveryId", "kind", "sendingLogId");

