#Requires -Version 7.4
# Pester 5: Search-Memory as an administrator uses it, on a workspace migrated from a real PostgreSQL:
# keyword and hybrid searches, -Embedding taken from the source, the pipeline from Get-ArchivalMemory,
# what the assistant writes between two searches, the table view, help and the error ids.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'LifeOS.Memory.TestSupport.psm1')
    Import-Module (Get-BuiltModuleManifest) -ErrorAction Stop
    $cluster = Get-TestPostgres
    $source = New-TestSource -Cluster $cluster
    # 40 entries on four topics; 4-dimension embeddings, one direction per topic and a little of their own;
    # every tenth entry has none.
    Invoke-TestSql $source @"
INSERT INTO archival_memory (id, content, metadata, created_at, embedding)
SELECT g, (ARRAY['Backups of the wiki run nightly', 'The treasury wallet moved tokens',
                 'Ana prefers meetings before noon', 'Deploy the server after the alert'])[g % 4 + 1] || ' (note ' || g || ')',
       jsonb_build_object('confidence', 0.5 + (g % 5) / 10.0),
       timestamptz '2025-03-01 00:00:00+00' + g * interval '5 hours',
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE ARRAY[(g % 4 = 0)::int + 0.3 * sin(g), (g % 4 = 1)::int + 0.3 * cos(g),
                       (g % 4 = 2)::int + 0.3 * sin(2 * g), (g % 4 = 3)::int + 0.3 * cos(3 * g)]::real[] END
FROM generate_series(1, 40) g
"@ | Out-Null
    $ws = $source.Root
    Invoke-ArchivalMigration -ConnectionString $source.Uri() -MemoryPath $ws -Confirm:$false | Out-Null
    $id = 'SearchMemoryCommand'

    # The embedding of a source row as PostgreSQL holds it, as a [float[]].
    function Get-SourceEmbedding([long] $Id) {
        $text = Invoke-TestSql $source "SELECT embedding FROM archival_memory WHERE id = $Id"
        [float[]] ($text.Trim('{}') -split ',' | ForEach-Object { [float]::Parse($_, [cultureinfo]::InvariantCulture) })
    }
}

AfterAll {
    Remove-TestSource $source
    Stop-TestPostgres $cluster
}

Describe 'Search-Memory' {
    It 'finds migrated facts by keyword, best first, as typed results with their source ids' {
        $results = Search-Memory 'wallet' -MemoryPath $ws -Limit 5

        $results.Count | Should -Be 5
        $results | ForEach-Object { $_.PSObject.TypeNames[0] | Should -Be 'LifeOS.Memory.Search.SearchResult' }
        $results.Mode | Sort-Object -Unique | Should -Be 'Keyword'
        $results.Content | ForEach-Object { $_ | Should -Match 'treasury wallet' }
        $results.SourceId | ForEach-Object { $_ % 4 | Should -Be 1 }
        $results.KeywordRank | Should -Be 1, 2, 3, 4, 5
    }

    It 'shows results as a table with the scores, ranks and content' {
        $text = Search-Memory 'wallet' -MemoryPath $ws -Limit 2 | Out-String -Width 200

        $text | Should -Match 'Score\s+Mode\s+Kw\s+Vec\s+Similarity\s+FactId\s+SourceId\s+Timestamp\s+Content'
        $text | Should -Match 'Keyword\s+1\s+\d+\s+\d+\s+2025-0'
    }

    It 'merges keyword and semantic results with -Embedding taken from the source' {
        $vector = Get-SourceEmbedding 6     # a meeting note
        $results = Search-Memory 'wallet' -Embedding $vector -MemoryPath $ws -Limit 10

        $six = $results | Where-Object SourceId -eq 6
        $six.Mode | Should -Be 'Semantic'
        $six.Similarity | Should -BeGreaterThan 0.999999
        $six.VectorRank | Should -Be 1
        ($results | Where-Object Mode -eq 'Keyword').Count | Should -BeGreaterThan 0
        ($results | Where-Object SourceId -eq 10) | Should -BeNullOrEmpty -Because 'entry 10 has no embedding and no keyword'
    }

    It 'searches near an entry piped from Get-ArchivalMemory' {
        $results = Get-ArchivalMemory -Id 7 -ConnectionString $source.Uri() -MemoryPath $ws |
            Search-Memory -Query '' -MemoryPath $ws -Limit 3

        $results.Count | Should -Be 3
        $results[0].SourceId | Should -Be 7
        $results.Mode | Sort-Object -Unique | Should -Be 'Semantic'
        $results.Content | ForEach-Object { $_ | Should -Match 'Deploy the server' }
    }

    It 'applies the filters to the semantic results too' {
        $vector = Get-SourceEmbedding 6
        $results = Search-Memory '' -Embedding $vector -MemoryPath $ws -Limit 40 -MinConfidence 0.85 -Source archival_memory

        $results | Should -Not -BeNullOrEmpty
        $results.Confidence | ForEach-Object { $_ | Should -BeGreaterOrEqual 0.85 }
        Search-Memory '' -Embedding $vector -MemoryPath $ws -Source telegram | Should -BeNullOrEmpty
        Search-Memory 'wallet' -MemoryPath $ws -TimeFilter Today | Should -BeNullOrEmpty
    }

    It 'finds what the assistant inserted since the previous search in the same session' {
        Search-Memory 'zeppelin' -MemoryPath $ws | Should -BeNullOrEmpty
        $db = Join-Path $ws 'jarvis.db'
        python3 -c @"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("INSERT INTO facts (content, context, timestamp, source, confidence, is_assistant_output) VALUES ('A zeppelin flew over the office', 'chat', '2025-04-01 10:00:00', 'telegram', 0.9, 0)")
con.commit()
"@ $db
        $LASTEXITCODE | Should -Be 0

        $found = Search-Memory 'zeppelin' -MemoryPath $ws
        $found.Content | Should -Be 'A zeppelin flew over the office'
        $found.Source | Should -Be 'telegram'
        $found.SourceId | Should -BeNullOrEmpty
    }

    Context 'errors' {
        It 'names both dimensions when the vector has another length' {
            { Search-Memory 'x' -Embedding 1, 2 -MemoryPath $ws -ErrorAction Stop } |
                Should -Throw -ErrorId "EmbeddingDimensionMismatch,LifeOS.Memory.Commands.$id" -ExpectedMessage '*2 dimensions*4*'
        }

        It 'refuses a vector of zeros' {
            { Search-Memory 'x' -Embedding 0, 0, 0, 0 -MemoryPath $ws -ErrorAction Stop } |
                Should -Throw -ErrorId "InvalidEmbedding,LifeOS.Memory.Commands.$id"
        }

        It 'refuses a query the full-text index rejects' {
            { Search-Memory "a`0b" -MemoryPath $ws -ErrorAction Stop } |
                Should -Throw -ErrorId "InvalidSearchQuery,LifeOS.Memory.Commands.$id"
        }

        It 'writes a non-terminating error for a source id that was never migrated, and goes on' {
            $results = 999, 7 | ForEach-Object { [pscustomobject]@{ Id = $_ } } |
                Search-Memory -Query '' -MemoryPath $ws -Limit 1 -ErrorVariable failures -ErrorAction SilentlyContinue

            $failures.Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be "SimilarToNotFound,LifeOS.Memory.Commands.$id"
            $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $results.SourceId | Should -Be 7
        }

        It 'says there is no workspace' {
            $empty = New-TestFolder
            try {
                { Search-Memory 'x' -MemoryPath $empty -ErrorAction Stop } |
                    Should -Throw -ErrorId "WorkspaceNotFound,LifeOS.Memory.Commands.$id"
            }
            finally {
                Remove-Item -LiteralPath $empty -Recurse -Force
            }
        }

        It 'validates -TimeFilter and -Limit before searching' {
            { Search-Memory 'x' -MemoryPath $ws -TimeFilter Decade } | Should -Throw -ErrorId 'ParameterArgumentValidationError,LifeOS.Memory.Commands.SearchMemoryCommand'
            { Search-Memory 'x' -MemoryPath $ws -Limit 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,LifeOS.Memory.Commands.SearchMemoryCommand'
        }
    }

    It 'has help with a synopsis, every parameter and examples' {
        $help = Get-Help Search-Memory -Full

        $help.Synopsis | Should -Match 'assistant'
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        $names = $help.Parameters.Parameter.Name
        foreach ($name in 'Query', 'Embedding', 'SimilarTo', 'Limit', 'TimeFilter', 'Source', 'MinConfidence', 'IncludeAssistantOutput', 'MemoryPath') {
            $names | Should -Contain $name
        }
    }
}

# The README's proof before the cut-over: the same queries through Search-Memory, each with the embedding the
# source holds for one entry, one It per query; each finds that entry, the most similar to its own vector.
Describe 'The assistant''s memories are still found after the cut-over' {
    It 'finds entry <_> with its own embedding' -ForEach 2, 7, 13, 24, 31 {
        $results = Search-Memory 'note' -Embedding (Get-SourceEmbedding $_) -MemoryPath $ws -Limit 5

        $entry = $results | Where-Object SourceId -eq $_
        $entry.VectorRank | Should -Be 1
        $entry.Similarity | Should -BeGreaterThan 0.999999
    }
}
