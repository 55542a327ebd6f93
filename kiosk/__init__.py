"""The ticket kiosk: buttons in, a numbered ticket out, the ticket on to the caller."""
