import sia_gateway

print(sia_gateway.chat("hello") if sia_gateway.available() else "no model")
