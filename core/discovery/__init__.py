"""Finding candidate Pis: mDNS here, through a jump host, and the neighbour table."""
