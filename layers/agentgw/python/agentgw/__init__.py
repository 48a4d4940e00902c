"""agentgw runtime library: the code the Lambda functions share, deployed as a layer."""

__version__ = "0.1.0"
