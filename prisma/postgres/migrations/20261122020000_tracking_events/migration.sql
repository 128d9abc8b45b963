-- CreateTable
CREATE TABLE "TrackingEvent" (
    "id" SERIAL NOT NULL,
    "deliveryId" TEXT NOT NULL,
    "sendingLogId" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "linkId" INTEGER NOT NULL DEFAULT 0,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TrackingEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "TrackingEvent_deliveryId_kind_sendingLogId_idx" ON "TrackingEvent"("deliveryId", "kind", "sendingLogId");

