-- Reservations asked for through POST /v1/reservations: the request as checked, so that
-- the same request sent again is answered with the same reservation and another request
-- under the same id is refused, and the channel it was asked for (if any).

CREATE TABLE reservation_requests (
    reservation_id TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    channel TEXT,
    request TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
