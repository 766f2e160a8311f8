"""The 12345 hotline server: FastAGI call flows, AMI, web desk and the Asterisk it drives."""
