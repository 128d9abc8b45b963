-- CreateTable
CREATE TABLE "WebhookToken" (
    "provider" TEXT NOT NULL,
    "token" TEXT NOT NULL,
    "seenAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("provider", "token")
);

