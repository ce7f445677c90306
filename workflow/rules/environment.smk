rule environment:
    output:
        "results/environment.json",
    log:
        "logs/environment.log",
    shell:
        "parbench env --out {output} 2> {log}"
