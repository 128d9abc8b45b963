-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN "complainedAt" DATETIME;

-- CreateTable
CREATE TABLE "DkimKey" (
    "domain" TEXT NOT NULL,
    "selector" TEXT NOT NULL,
    "keyType" TEXT NOT NULL,
    "sealedKey" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("domain", "selector")
);

