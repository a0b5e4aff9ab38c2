"""Faithful fakes of the ConnectWise and Encharge APIs, served over real HTTP on loopback (demo and tests)."""
