-- CreateTable
CREATE TABLE "WebhookToken" (
    "provider" TEXT NOT NULL,
    "token" TEXT NOT NULL,
    "seenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WebhookToken_pkey" PRIMARY KEY ("provider","token")
);

