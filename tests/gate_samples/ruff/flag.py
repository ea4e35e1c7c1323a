def main():
    return undefined_name
