from dataplat.cli import main

main()
