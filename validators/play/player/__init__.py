"""What a player would see, checked across the rounds the autopilot played: the score counts,
pipes come from the first round and can be passed, the best score is kept, text stays inside the
window, nothing flickers, and what the prompt calls random varies across seeded runs."""
