-- Faults where they belong: a refusal for the sender (authentication, reputation, content) is counted, never held against the address;
-- an address's list subscriptions are found by the address (erasure, imports of an erased address).
-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN     "senderRefusedAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "ListSubscription_address_idx" ON "ListSubscription"("address");
