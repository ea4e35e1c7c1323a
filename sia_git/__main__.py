from sia_git.cli import main

main()
