"""The grounded decoder: trained on simulated findings of the real-world encoder, and its evaluation."""
