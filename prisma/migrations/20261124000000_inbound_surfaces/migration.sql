-- Trusted inbound surfaces: a delay notice counts once per message, opt-outs by address, incremental tracking tallies.
-- AlterTable
ALTER TABLE "SendingLog" ADD COLUMN "delayedAt" DATETIME;

-- CreateTable
CREATE TABLE "OptOut" (
    "address" TEXT NOT NULL PRIMARY KEY,
    "optedOutAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "source" TEXT NOT NULL,
    "deliveryId" TEXT
);

-- CreateTable
CREATE TABLE "TrackingTally" (
    "deliveryId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "linkId" INTEGER NOT NULL,
    "total" INTEGER NOT NULL DEFAULT 0,
    "recipients" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("deliveryId", "kind", "linkId")
);

-- CreateTable
CREATE TABLE "TrackingReach" (
    "deliveryId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "linkId" INTEGER NOT NULL,
    "sendingLogId" INTEGER NOT NULL,

    PRIMARY KEY ("deliveryId", "kind", "linkId", "sendingLogId")
);


-- Backfill: an opted-out profile opts out its address (subscription state belongs to the address).
INSERT INTO "OptOut" ("address", "source")
SELECT DISTINCT lower(trim("email")), 'profile import' FROM "Profile" WHERE "optOut" AND trim("email") <> '';

-- Backfill: the tallies and first events of the tracking events already recorded.
INSERT INTO "TrackingReach" ("deliveryId", "kind", "linkId", "sendingLogId")
SELECT DISTINCT "deliveryId", "kind", "linkId", "sendingLogId" FROM "TrackingEvent";
INSERT INTO "TrackingReach" ("deliveryId", "kind", "linkId", "sendingLogId")
SELECT DISTINCT "deliveryId", 'click', 0, "sendingLogId" FROM "TrackingEvent" WHERE "kind" = 'click';
INSERT INTO "TrackingTally" ("deliveryId", "kind", "linkId", "total", "recipients")
SELECT "deliveryId", "kind", "linkId", COUNT(*), COUNT(DISTINCT "sendingLogId") FROM "TrackingEvent" GROUP BY "deliveryId", "kind", "linkId";
INSERT INTO "TrackingTally" ("deliveryId", "kind", "linkId", "total", "recipients")
SELECT "deliveryId", 'click', 0, 0, COUNT(DISTINCT "sendingLogId") FROM "TrackingEvent" WHERE "kind" = 'click' GROUP BY "deliveryId";
