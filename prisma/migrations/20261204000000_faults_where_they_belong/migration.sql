-- Faults where they belong: a refusal for the sender (authentication, reputation, content) is counted, never held against the address.
-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN "senderRefusedAt" DATETIME;
