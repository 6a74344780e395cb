"""Children's social care adapter: social care advice (F3) and Care Act transition assessments (F6)."""
