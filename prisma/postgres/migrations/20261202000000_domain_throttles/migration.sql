-- CreateTable
CREATE TABLE "DomainThrottle" (
    "domain" TEXT NOT NULL,
    "messagesPerSecond" DOUBLE PRECISION NOT NULL,
    "nextAt" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "DomainThrottle_pkey" PRIMARY KEY ("domain")
);

