"""Education adapter: LA SEN case-management systems, schools and educational psychologists."""
