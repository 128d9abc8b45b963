-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "Profile" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "firstName" TEXT NOT NULL DEFAULT '',
    "lastName" TEXT NOT NULL DEFAULT '',
    "language" TEXT NOT NULL DEFAULT '',
    "country" TEXT NOT NULL DEFAULT '',
    "optOut" BOOLEAN NOT NULL DEFAULT false,
    "attributes" TEXT NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Profile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Delivery" (
    "id" TEXT NOT NULL,
    "runKey" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "spec" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "preparedAt" TIMESTAMP(3),

    CONSTRAINT "Delivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SendingLog" (
    "id" SERIAL NOT NULL,
    "deliveryId" TEXT NOT NULL,
    "profileId" INTEGER NOT NULL,
    "email" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "exclusionCause" TEXT,
    "failureType" TEXT,
    "reason" TEXT,
    "personalization" TEXT NOT NULL DEFAULT '{}',
    "messageId" TEXT,
    "claim" TEXT,
    "sendAttempts" INTEGER NOT NULL DEFAULT 0,
    "sentAt" TIMESTAMP(3),

    CONSTRAINT "SendingLog_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Profile_email_idx" ON "Profile"("email");

-- CreateIndex
CREATE INDEX "SendingLog_deliveryId_status_id_idx" ON "SendingLog"("deliveryId", "status", "id");

-- CreateIndex
CREATE INDEX "SendingLog_deliveryId_email_idx" ON "SendingLog"("deliveryId", "email");

-- CreateIndex
CREATE UNIQUE INDEX "SendingLog_deliveryId_profileId_key" ON "SendingLog"("deliveryId", "profileId");

