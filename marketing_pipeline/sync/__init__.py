"""The pure core of a sync: filters, email rules and the plan. Plain data in, plain data out, no I/O."""
