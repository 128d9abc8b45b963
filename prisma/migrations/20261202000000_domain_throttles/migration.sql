-- CreateTable
CREATE TABLE "DomainThrottle" (
    "domain" TEXT NOT NULL PRIMARY KEY,
    "messagesPerSecond" REAL NOT NULL,
    "nextAt" REAL NOT NULL DEFAULT 0,
    "updatedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

