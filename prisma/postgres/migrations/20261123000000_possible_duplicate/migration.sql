-- A message may have been received twice after a crash, a database outage, or a connection lost after its
-- content went out: "resentAfterCrash" said only the first.
ALTER TABLE "SendingLog" RENAME COLUMN "resentAfterCrash" TO "possibleDuplicate";
