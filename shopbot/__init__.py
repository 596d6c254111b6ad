"""shopbot: a shopping-assistant chat service on Amazon Bedrock's Converse API.

Importing the package does no I/O and reads no environment.
"""

__version__ = "0.1.0"
