-- CreateTable
CREATE TABLE "MailDomain" (
    "domain" TEXT NOT NULL PRIMARY KEY,
    "provider" TEXT NOT NULL,
    "mxHosts" TEXT NOT NULL DEFAULT '',
    "source" TEXT NOT NULL,
    "resolvedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "ShapingRule" (
    "name" TEXT NOT NULL PRIMARY KEY,
    "code" INTEGER,
    "enhanced" TEXT,
    "text" TEXT,
    "provider" TEXT,
    "action" TEXT NOT NULL,
    "suspendSeconds" INTEGER,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_DomainThrottle" (
    "domain" TEXT NOT NULL PRIMARY KEY,
    "messagesPerSecond" REAL NOT NULL,
    "cap" REAL,
    "ceiling" REAL,
    "peak" REAL,
    "nextAt" REAL NOT NULL DEFAULT 0,
    "slowedAt" REAL NOT NULL DEFAULT 0,
    "raisedAt" REAL NOT NULL DEFAULT 0,
    "suspendedUntil" REAL NOT NULL DEFAULT 0,
    "lastReply" TEXT,
    "cause" TEXT,
    "updatedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "new_DomainThrottle" ("domain", "messagesPerSecond", "nextAt", "updatedAt") SELECT "domain", "messagesPerSecond", "nextAt", "updatedAt" FROM "DomainThrottle";
DROP TABLE "DomainThrottle";
ALTER TABLE "new_DomainThrottle" RENAME TO "DomainThrottle";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- The caps set before shaping existed were ops' caps.
UPDATE "DomainThrottle" SET "cap" = "messagesPerSecond";

-- CreateTable
CREATE TABLE "Warmup" (
    "senderDomain" TEXT NOT NULL PRIMARY KEY,
    "fromPerDay" INTEGER NOT NULL,
    "growth" REAL NOT NULL,
    "untilPerDay" INTEGER NOT NULL,
    "startedOn" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "WarmupUsage" (
    "senderDomain" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "day" TEXT NOT NULL,
    "used" INTEGER NOT NULL DEFAULT 0,
    "lastGrant" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("senderDomain", "provider", "day")
);

