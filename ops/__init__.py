"""Day-2 operations on a deployed stack: backup, restore, rotate, doctor, status (`python -m ops --help`)."""
