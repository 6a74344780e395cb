"""Adult social care adapter: transition referrals out, acknowledgements and reuse decisions back."""
