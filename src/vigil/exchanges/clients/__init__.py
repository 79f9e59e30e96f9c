"""Exchange clients: each exchange's HTTP protocol, apart from how its records are used."""
