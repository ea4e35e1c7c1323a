import asyncio

import httpx
import sia_gateway


async def main():
    async with httpx.AsyncClient() as client:
        return client


print(sia_gateway.chat("hello") if sia_gateway.available() else asyncio.run(main()))
