-- AlterTable
ALTER TABLE "DomainThrottle" ADD COLUMN     "cap" DOUBLE PRECISION,
ADD COLUMN     "cause" TEXT,
ADD COLUMN     "ceiling" DOUBLE PRECISION,
ADD COLUMN     "lastReply" TEXT,
ADD COLUMN     "peak" DOUBLE PRECISION,
ADD COLUMN     "raisedAt" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN     "slowedAt" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN     "suspendedUntil" DOUBLE PRECISION NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "MailDomain" (
    "domain" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "mxHosts" TEXT NOT NULL DEFAULT '',
    "source" TEXT NOT NULL,
    "resolvedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MailDomain_pkey" PRIMARY KEY ("domain")
);

-- CreateTable
CREATE TABLE "ShapingRule" (
    "name" TEXT NOT NULL,
    "code" INTEGER,
    "enhanced" TEXT,
    "text" TEXT,
    "provider" TEXT,
    "action" TEXT NOT NULL,
    "suspendSeconds" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ShapingRule_pkey" PRIMARY KEY ("name")
);

-- The caps set before shaping existed were ops' caps.
UPDATE "DomainThrottle" SET "cap" = "messagesPerSecond";

-- CreateTable
CREATE TABLE "Warmup" (
    "senderDomain" TEXT NOT NULL,
    "fromPerDay" INTEGER NOT NULL,
    "growth" DOUBLE PRECISION NOT NULL,
    "untilPerDay" INTEGER NOT NULL,
    "startedOn" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Warmup_pkey" PRIMARY KEY ("senderDomain")
);

-- CreateTable
CREATE TABLE "WarmupUsage" (
    "senderDomain" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "day" TEXT NOT NULL,
    "used" INTEGER NOT NULL DEFAULT 0,
    "lastGrant" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "WarmupUsage_pkey" PRIMARY KEY ("senderDomain","provider","day")
);

