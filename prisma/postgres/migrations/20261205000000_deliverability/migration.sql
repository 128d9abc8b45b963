-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN     "complainedAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "DkimKey" (
    "domain" TEXT NOT NULL,
    "selector" TEXT NOT NULL,
    "keyType" TEXT NOT NULL,
    "sealedKey" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "DkimKey_pkey" PRIMARY KEY ("domain","selector")
);

