"""The MarketingSync / MarketingSyncRun tables, their migrations, and a typed repository over them."""
