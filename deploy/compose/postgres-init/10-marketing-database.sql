-- Run once, when the postgres service first initialises its volume: the database of the MarketingSync
-- tables (unused when MARKETING_DATABASE_URL points at the NestJS app's database). `init` migrates it.
CREATE DATABASE marketing;
